"""henkham's entry points: the web application (REST API, later the Zalo webhook) and the CLI."""
