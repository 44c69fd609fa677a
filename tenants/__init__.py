"""Customer tenants: MSSP customers, their Entra ID tenant, consent state and audit trail."""
