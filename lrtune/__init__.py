"""lrtune."""
