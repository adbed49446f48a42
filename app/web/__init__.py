"""The web page (SPEC §5 "Web page"): one HTML shell and its ES modules, served as static files from `web/`."""
