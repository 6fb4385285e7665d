"""The agent console's sessions: who is signed in to ``/console``, until when, and the token
that proves a request came from the console's own page (CSRF)."""
