"""Quality objectives (5.9, Phụ lục 3): yearly plans and reports for the agency and units."""
