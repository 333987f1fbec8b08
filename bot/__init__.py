"""tunebot's Slack edge. Talks to the job service only through services.client."""
