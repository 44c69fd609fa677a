"""Portal users' roles: MSSP administrators and analysts, as Django groups and permissions."""
