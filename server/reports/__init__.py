"""Period reports (issue 15): the figures, their reading from Redis, and their
rendering as JSON, CSV and a printable HTML file with SVG charts."""
