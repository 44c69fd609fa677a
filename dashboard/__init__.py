"""The analysts' combined incident dashboard, incident detail, tenant overview and export."""
