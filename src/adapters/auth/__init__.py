"""Token verification (the TokenVerifier port) with joserfc: JWKS over HTTP, or a local issuer."""
