"""The web page (issue 8): one HTML shell and its ES modules, served as static files from `web/`."""
