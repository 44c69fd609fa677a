"""Customer onboarding: onboarding links, admin consent, tenant ID capture and confirmation."""
