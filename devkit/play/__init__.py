"""Google Play credentials and purchase checks: `play-auth` and `play-verify`.

auth.py runs the OAuth flow and stores the refresh token; verify.py reads a
purchase with it (or with a service-account key). Neither prints anything.
"""

from __future__ import annotations

ANDROIDPUBLISHER_SCOPE = "https://www.googleapis.com/auth/androidpublisher"
DEFAULT_API_ENDPOINT = "https://androidpublisher.googleapis.com"
CREDENTIALS_FILENAME = "play-credentials.json"
