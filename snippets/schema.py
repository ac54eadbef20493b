from drf_spectacular.extensions import OpenApiAuthenticationExtension


class JWTAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describe our JWT scheme once: OpenAPI allows one header type, we accept two."""

    target_class = "snippets.tokens.SessionJWTAuthentication"
    name = "jwtAuth"
    priority = 1  # above drf-spectacular's own simplejwt extension

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                "An access token from /api/auth/token/, sent as "
                "`Authorization: Bearer <token>` or `Authorization: JWT <token>`."
            ),
        }
