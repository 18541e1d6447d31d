"""Check-in at venues: activity codes, scans and their rendering."""
