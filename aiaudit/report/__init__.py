"""The auditor-facing report: a JSON twin and the HTML summary placed atop pytest-html."""
