"""Views of the sync app: "Sync now" on the tenant page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from sync import scheduling
from tenants.scoping import visible_customers


@require_POST
@login_required
@permission_required("sync.run_sync", raise_exception=True)
def sync_now(request: HttpRequest, pk: int) -> HttpResponse:
    """POST (CSRF-protected): queue a sync of customer ``pk`` if the user may see it.

    Needs ``sync.run_sync``; a customer outside the user's scope is a 404. Always redirects to
    the tenant page (never to a URL from the request).
    """
    customer = get_object_or_404(visible_customers(request.user), pk=pk)
    if scheduling.request_sync_now(customer=customer, user=request.user):
        messages.success(request, f"A sync of {customer.name} was queued.")
    else:
        messages.error(
            request, f"{customer.name} is not connected, so its incidents cannot be synced."
        )
    return redirect("tenants:detail", pk=customer.pk)
