"""bussdcc kernel."""
