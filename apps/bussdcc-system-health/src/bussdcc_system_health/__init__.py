"""bussdcc system health."""
