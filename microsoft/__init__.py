"""Clients for Microsoft's services: one module per service.

- ``microsoft.entra``: Entra ID (MSAL client-credential tokens, tenant discovery, consent URLs).
- ``microsoft.defender``: the Defender XDR incidents API.
- ``microsoft.http``: the shared requests session factory (CA bundle, timeouts).

These are the only modules that talk to Microsoft; tests point them at the local emulator
through settings (AZURE_AUTHORITY_HOST, DEFENDER_API_URL, REQUESTS_CA_BUNDLE).
"""
