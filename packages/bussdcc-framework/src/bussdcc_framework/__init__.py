"""bussdcc framework."""
