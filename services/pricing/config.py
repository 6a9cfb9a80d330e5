"""pricing-service configuration from the environment (secrets only from here, never from files).

HISAAB_PAYMENT_PROVIDER   comma-separated providers that may take orders: dev, razorpay
                          (default: dev outside production, razorpay in staging/prod)
HISAAB_RAZORPAY_KEY_ID, HISAAB_RAZORPAY_KEY_SECRET   the Razorpay API key pair
HISAAB_RAZORPAY_WEBHOOK_SECRET                       the secret the webhook is signed with
HISAAB_PRICING_ADMINS     comma-separated user ids allowed to change the catalog
                          (in addition to members of the Cognito group "hisaab-admins")

The dev provider marks orders paid without any payment, so it is refused in
production configuration, whatever the variable says.
"""

from __future__ import annotations

from dataclasses import dataclass

from libs.settings import PRODUCTION_ENVS, SettingsError, env_var

KNOWN_PROVIDERS = frozenset({"dev", "razorpay"})


@dataclass(frozen=True)
class PricingConfig:
    providers: frozenset[str]
    razorpay_key_id: str
    razorpay_key_secret: str
    razorpay_webhook_secret: str
    admins: frozenset[str]

    def __repr__(self) -> str:  # never print secrets in logs or tracebacks
        return f"PricingConfig(providers={sorted(self.providers)}, admins={len(self.admins)})"


def load(env: str) -> PricingConfig:
    default = "razorpay" if env in PRODUCTION_ENVS else "dev"
    providers = frozenset(
        p.strip().lower() for p in env_var("HISAAB_PAYMENT_PROVIDER", default).split(",") if p.strip()
    )
    unknown = providers - KNOWN_PROVIDERS
    if unknown:
        raise SettingsError(f"HISAAB_PAYMENT_PROVIDER: unknown provider(s) {sorted(unknown)}")
    if "dev" in providers and env in PRODUCTION_ENVS:
        raise SettingsError(f"HISAAB_PAYMENT_PROVIDER=dev cannot run with HISAAB_ENV={env}")
    config = PricingConfig(
        providers=providers,
        razorpay_key_id=env_var("HISAAB_RAZORPAY_KEY_ID"),
        razorpay_key_secret=env_var("HISAAB_RAZORPAY_KEY_SECRET"),
        razorpay_webhook_secret=env_var("HISAAB_RAZORPAY_WEBHOOK_SECRET"),
        admins=frozenset(a.strip() for a in env_var("HISAAB_PRICING_ADMINS").split(",") if a.strip()),
    )
    if "razorpay" in providers and not (config.razorpay_key_id and config.razorpay_key_secret):
        raise SettingsError("HISAAB_RAZORPAY_KEY_ID and HISAAB_RAZORPAY_KEY_SECRET are required for razorpay")
    if "razorpay" in providers and not config.razorpay_webhook_secret:
        # Without it, payments the app never confirmed and refunds would go unnoticed.
        raise SettingsError("HISAAB_RAZORPAY_WEBHOOK_SECRET is required for razorpay")
    return config
