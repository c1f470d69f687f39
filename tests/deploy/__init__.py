"""Deployment checks: Dockerfile, compose file, .env example and the deploy scripts."""
