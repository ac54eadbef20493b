"""The Tornado process: Django's API over `/ws/api`, every other path over HTTP."""
