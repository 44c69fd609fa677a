"""Permission boundaries of the onboarding pages: only users with tenants.manage_onboarding
create customers, see or regenerate links, re-check, link tenants or offboard."""

from __future__ import annotations

import pytest
from django.test import Client

from onboarding import links
from onboarding.models import OnboardingLink
from tenants.models import ConsentState, Customer

pytestmark = pytest.mark.django_db

MANAGE_GETS = ["/customers/", "/customers/new/", "/onboarding/settings/"]


def customer_urls(pk: int) -> tuple[list[str], list[str]]:
    """(GET pages, POST actions) that need the onboarding permission."""
    return (
        [f"/customers/{pk}/edit/", f"/customers/{pk}/offboard/"],
        [
            "/customers/new/",
            f"/customers/{pk}/edit/",
            f"/customers/{pk}/recheck/",
            f"/customers/{pk}/link/",
            f"/customers/{pk}/connect/",
            f"/customers/{pk}/offboard/",
        ],
    )


def test_anonymous_users_are_sent_to_sign_in(client: Client, customer_a) -> None:
    gets, posts = customer_urls(customer_a.pk)
    for url in [*MANAGE_GETS, *gets, f"/customers/{customer_a.pk}/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url
    for url in posts:
        assert client.post(url).status_code == 302, url


@pytest.mark.parametrize("persona", ["analyst_a", "outsider"])
def test_users_without_onboarding_permission_are_refused(
    client: Client, request, customer_a, persona: str
) -> None:
    client.force_login(request.getfixturevalue(persona))
    gets, posts = customer_urls(customer_a.pk)
    for url in [*MANAGE_GETS, *gets]:
        assert client.get(url).status_code == 403, url
    before = OnboardingLink.objects.count()
    for url in posts:
        data = {
            "name": "X",
            "tenant_or_domain": "contoso.com",
            "keep_or_delete": "delete",
            "confirm": "on",
        }
        assert client.post(url, data).status_code == 403, url
    customer_a.refresh_from_db()
    assert customer_a.consent_state == ConsentState.CONNECTED
    assert customer_a.name == "Contoso"
    assert Customer.objects.count() == 1
    assert OnboardingLink.objects.count() == before


def test_administrator_reaches_every_page(client: Client, admin_user, customer_a) -> None:
    client.force_login(admin_user)
    gets, _ = customer_urls(customer_a.pk)
    for url in [*MANAGE_GETS, *gets, f"/customers/{customer_a.pk}/"]:
        assert client.get(url).status_code == 200, url


def test_analyst_sees_own_tenant_page_without_onboarding_controls(
    client: Client, analyst_a, customer_a, customer_b
) -> None:
    links.issue_link(customer=customer_a, actor_label="test")
    client.force_login(analyst_a)
    response = client.get(f"/customers/{customer_a.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Contoso" in body and str(customer_a.tenant_id) in body
    assert "/onboarding/l/" not in body  # no link
    assert "Re-check consent" not in body and "Offboard" not in body
    assert "audit trail" not in body
    # Another analyst's customer does not exist for this user.
    assert client.get(f"/customers/{customer_b.pk}/").status_code == 404


def test_administrator_sees_link_and_controls(client: Client, admin_user, customer_a) -> None:
    link = links.issue_link(customer=customer_a, actor_label="test")
    client.force_login(admin_user)
    body = client.get(f"/customers/{customer_a.pk}/").content.decode()
    assert links.link_url(link) in body
    assert "Re-check consent" in body and "Offboard" in body
    assert "Onboarding audit trail" in body


def test_staff_analyst_admin_list_is_scoped(
    client: Client, analyst_a, customer_a, customer_b
) -> None:
    from django.contrib.auth.models import Permission

    analyst_a.is_staff = True
    analyst_a.save()
    analyst_a.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(analyst_a)
    body = client.get("/admin/tenants/customer/").content.decode()
    assert "Contoso" in body and "Fabrikam" not in body
