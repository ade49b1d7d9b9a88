"""The settings page: sign-in sessions, CSRF-protected forms and the integrations UI, served as HTML."""
