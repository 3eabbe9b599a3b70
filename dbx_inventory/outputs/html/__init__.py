"""--report: the HTML page (jinja2 template, plotly charts)."""
