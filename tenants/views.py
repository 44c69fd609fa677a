"""Customer pages: the onboarding list, add/edit, the tenant page, re-check, new link, manual
tenant entry (v1 path) and offboarding. Views validate input and delegate to services.

Access: the tenant page is visible to anyone who may see the customer (``tenants.scoping``);
everything else needs ``tenants.manage_onboarding``.
"""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from microsoft import entra
from onboarding import explain, links
from onboarding.confirmation import Confirmation, recheck
from onboarding.forms import ManualTenantForm
from onboarding.selectors import onboarding_panel
from onboarding.services import link_tenant_manually
from sync.selectors import tenant_sync_panel
from tenants import selectors, services
from tenants.forms import CustomerForm, OffboardForm
from tenants.models import ConsentState, Customer

MANAGE = "tenants.manage_onboarding"
PAGE_SIZE = 100


def _actor(request: HttpRequest) -> User:
    """The signed-in user (every view using it is behind login_required)."""
    return cast(User, request.user)


def _customer_or_404(request: HttpRequest, pk: int) -> Customer:
    customer = selectors.customer_for(user=request.user, pk=pk)
    if customer is None:
        raise Http404("No such customer")
    return customer


def _back(request: HttpRequest, customer: Customer) -> HttpResponseRedirect:
    """Redirect to a same-site ``next`` if given, else the tenant page (off-site: ignored)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return redirect("tenants:detail", pk=customer.pk)


def _announce(request: HttpRequest, confirmation: Confirmation) -> None:
    if confirmation.ok:
        messages.success(
            request,
            f"{confirmation.customer.name} is connected (roles: "
            f"{', '.join(confirmation.granted_roles)}).",
        )
    else:
        code = f" ({confirmation.code})" if confirmation.code else ""
        messages.error(request, f"Not connected{code}: {confirmation.message}")


@login_required
@permission_required(MANAGE, raise_exception=True)
def customer_list(request: HttpRequest) -> HttpResponse:
    """Customers with their consent state, filterable by state, and the add-customer form."""
    state = request.GET.get("state", "")
    counts = selectors.state_counts(user=request.user)
    page = Paginator(selectors.customer_list(user=request.user, state=state), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "tenants/customer_list.html",
        {
            "nav": "onboarding",
            "page": page,
            "state": state,
            "states": [(value, label, counts[value]) for value, label in ConsentState.choices],
            "form": CustomerForm(),
        },
    )


@login_required
@permission_required(MANAGE, raise_exception=True)
def customer_create(request: HttpRequest) -> HttpResponse:
    """Add a customer; it gets its first onboarding link."""
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.create_customer(
                **{name: form.cleaned_data[name] for name in services.EDITABLE_FIELDS},
                actor=_actor(request),
            )
        except ValidationError as exc:  # the name was taken meanwhile
            form.add_error("name", exc)
        else:
            messages.success(
                request, f"{customer.name} added. Send its onboarding link to its administrator."
            )
            return redirect("tenants:detail", pk=customer.pk)
    return render(
        request, "tenants/customer_form.html", {"nav": "onboarding", "form": form, "customer": None}
    )


@login_required
@permission_required(MANAGE, raise_exception=True)
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a customer's name, domain, contacts and notes."""
    customer = _customer_or_404(request, pk)
    form = CustomerForm(request.POST or None, instance=Customer.objects.get(pk=customer.pk))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_customer(
                customer=customer,
                actor=_actor(request),
                **{name: form.cleaned_data[name] for name in services.EDITABLE_FIELDS},
            )
        except ValidationError as exc:  # the name was taken meanwhile
            form.add_error("name", exc)
        else:
            messages.success(request, "Customer saved.")
            return redirect("tenants:detail", pk=customer.pk)
    return render(
        request,
        "tenants/customer_form.html",
        {"nav": "onboarding", "form": form, "customer": customer},
    )


@login_required
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The tenant page: consent state, roles, errors, onboarding, sync history, audit trail."""
    customer = _customer_or_404(request, pk)
    can_manage = request.user.has_perm(MANAGE)
    context: dict[str, object] = {
        "nav": "onboarding" if can_manage else "tenants",
        "customer": customer,
        "can_manage": can_manage,
        "sync_panel": tenant_sync_panel(customer=customer),
    }
    if can_manage:
        context.update(
            {
                "onboarding": onboarding_panel(customer=customer),
                "audit_events": selectors.audit_trail(customer=customer),
                "manual_form": ManualTenantForm(),
                "legacy_consent_url": entra.legacy_consent_url(),
                "advice": explain.state_advice(customer.consent_state, customer.last_error_code),
            }
        )
    return render(request, "tenants/customer_detail.html", context)


@require_POST
@login_required
@permission_required(MANAGE, raise_exception=True)
def customer_recheck(request: HttpRequest, pk: int) -> HttpResponse:
    """Run the confirmation again for the customer's tenant ID (refused, with a message, for
    an offboarded customer: see ``onboarding.confirmation.recheck``)."""
    customer = _customer_or_404(request, pk)
    confirmation = recheck(
        customer=customer,
        actor=_actor(request),
        actor_label="MSSP administrator",
    )
    if confirmation is None:
        messages.error(
            request,
            "This customer has no tenant ID yet: send the onboarding link, or enter the tenant "
            "ID or domain below.",
        )
    else:
        _announce(request, confirmation)
    return _back(request, customer)


@require_POST
@login_required
@permission_required(MANAGE, raise_exception=True)
def customer_new_link(request: HttpRequest, pk: int) -> HttpResponse:
    """Issue a new onboarding link, revoking the previous one."""
    customer = _customer_or_404(request, pk)
    links.issue_link(customer=customer, actor=_actor(request))
    messages.success(request, "New onboarding link created; the previous link no longer works.")
    return redirect(reverse("tenants:detail", kwargs={"pk": customer.pk}) + "#onboarding")


@require_POST
@login_required
@permission_required(MANAGE, raise_exception=True)
def customer_connect(request: HttpRequest, pk: int) -> HttpResponse:
    """The v1 path: link the tenant ID or domain the administrator entered, then confirm it."""
    customer = _customer_or_404(request, pk)
    form = ManualTenantForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("tenant_or_domain", []):
            messages.error(request, str(error))
        return redirect(reverse("tenants:detail", kwargs={"pk": customer.pk}) + "#manual")
    confirmation = link_tenant_manually(
        customer=customer,
        tenant_or_domain=form.cleaned_data["tenant_or_domain"],
        actor=_actor(request),
        actor_label="MSSP administrator",
    )
    _announce(request, confirmation)
    return redirect("tenants:detail", pk=customer.pk)


@login_required
@permission_required(MANAGE, raise_exception=True)
def customer_offboard(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirmation page (GET) and offboarding (POST): keep or delete the customer's data."""
    customer = _customer_or_404(request, pk)
    form = OffboardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = services.offboard_customer(
            customer=customer,
            delete_data=form.delete_data,
            actor=_actor(request),
        )
        if result.deleted_data:
            messages.success(
                request,
                f"{customer.name} offboarded: {result.incidents} incidents, {result.alerts} "
                f"alerts and {result.sync_runs} sync runs deleted.",
            )
        else:
            messages.success(request, f"{customer.name} offboarded; its data was kept.")
        return redirect("tenants:detail", pk=customer.pk)
    return render(
        request,
        "tenants/customer_offboard.html",
        {"nav": "onboarding", "customer": customer, "form": form},
    )
