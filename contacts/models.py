"""What crmviewer persists (credentials and audit events arrive with the dashboard)."""
