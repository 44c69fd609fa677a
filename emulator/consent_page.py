"""HTML for the admin-consent page and the sign-in error page (§2 emulator choice).

Plain HTML with inline CSS, no external assets. Stable element ids for browser tests:
`tenant` (the <select> of tenants), `accept` and `cancel` (the two submit buttons).
"""

from __future__ import annotations

from html import escape

_STYLE = """
body{font-family:Segoe UI,Helvetica,Arial,sans-serif;background:#f2f2f2;margin:0}
main{max-width:460px;margin:48px auto;background:#fff;padding:32px 40px;
box-shadow:0 2px 6px rgba(0,0,0,.2)}
h1{font-size:22px;font-weight:600;margin:0 0 12px}
.brand{color:#737373;font-size:13px;margin-bottom:18px}
ul{padding-left:20px} li{margin:6px 0}
label{display:block;margin:18px 0 6px;font-weight:600}
select{width:100%;padding:6px}
.buttons{margin-top:24px;text-align:right}
button{min-width:108px;padding:7px 12px;margin-left:8px;border:1px solid #8a8a8a;background:#fff}
button#accept{background:#0067b8;color:#fff;border-color:#0067b8}
.error{color:#a4262c} code{word-break:break-all}
.note{color:#605e5c;font-size:12px;margin-top:18px}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><main><div class="brand">Microsoft (local emulator)</div>{body}</main>'
        "</body></html>\n"
    )


def consent_page(
    *,
    app_name: str,
    client_id: str,
    permissions: list[tuple[str, str, str]],
    tenants: list[tuple[str, str, str]],
    fixed_tenant: bool,
    action: str,
) -> str:
    """The consent form.

    permissions: (role, description, resource display name) rows.
    tenants: (tenant_id, name, domain) options; `fixed_tenant` when the path named one tenant.
    action: the URL the form POSTs to (the same endpoint with the original query string).
    The form posts `tenant` and `action` = "accept" | "cancel".
    """
    perms = (
        "".join(
            f"<li><strong>{escape(role)}</strong> ({escape(resource)}): {escape(desc)}"
            " &mdash; application permission, admin consent required</li>"
            for role, desc, resource in permissions
        )
        or "<li>Sign in and read user profile</li>"
    )
    options = "".join(
        f'<option value="{escape(tid)}">{escape(name)} ({escape(domain)})</option>'
        for tid, name, domain in tenants
    )
    which = (
        f"<p>Organisation: <strong>{escape(tenants[0][1])}</strong> ({escape(tenants[0][2])})</p>"
        if fixed_tenant and tenants
        else ""
    )
    body = f"""
<h1>Permissions requested</h1>
<p><strong id="app-name">{escape(app_name)}</strong><br>
<span class="note">Application (client) ID:
<code id="client-id">{escape(client_id)}</code></span></p>
{which}
<p>This application is requesting the following permissions for your organisation:</p>
<ul id="permissions">{perms}</ul>
<form method="post" action="{escape(action)}">
<label for="tenant">Sign in as administrator of</label>
<select id="tenant" name="tenant">{options}</select>
<p class="note">Accepting grants these permissions to the application for every user of the
organisation. This page is served by the local Microsoft emulator; no real tenant is involved.</p>
<div class="buttons">
<button type="submit" id="cancel" name="action" value="cancel">Cancel</button>
<button type="submit" id="accept" name="action" value="accept">Accept</button>
</div>
</form>
"""
    return _page(f"Permissions requested - {app_name}", body)


def error_page(code: int, message: str, trace_id: str, correlation_id: str, timestamp: str) -> str:
    """Sign-in error page showing `AADSTS{code}: {message}` (no redirect, §2.3 choice)."""
    body = f"""
<h1>Sorry, but we're having trouble signing you in.</h1>
<p class="error" id="error">AADSTS{code}: {escape(message)}</p>
<p class="note">Request Id: {escape(trace_id)}<br>Correlation Id: {escape(correlation_id)}<br>
Timestamp: {escape(timestamp)}</p>
"""
    return _page("Sign in to your account", body)
