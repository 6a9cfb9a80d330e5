"""Cognito: passwordless sign-in with an email or SMS one-time code (the seed's "OTP-based auth")."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import EnvConfig
from infra.stacks.nag import suppress


class AuthStack(Stack):
    def __init__(self, scope: Construct, cid: str, *, config: EnvConfig, **kwargs: object) -> None:
        super().__init__(scope, cid, **kwargs)  # type: ignore[arg-type]
        sms_role = iam.Role(
            self,
            "SmsRole",
            assumed_by=iam.ServicePrincipal(
                "cognito-idp.amazonaws.com",
                conditions={"StringEquals": {"sts:ExternalId": f"{config.name}-cognito-sms"}},
            ),
            description="Cognito sends sign-in codes by SMS through SNS",
            inline_policies={
                "sms": iam.PolicyDocument(
                    statements=[
                        # SMS goes to phone numbers, which have no ARN.
                        iam.PolicyStatement(actions=["sns:Publish"], resources=["*"])
                    ]
                )
            },
        )
        suppress(sms_role, {"AwsSolutions-IAM5": "sns:Publish to a phone number has no resource ARN."})
        self.user_pool = cognito.UserPool(
            self,
            "Users",
            user_pool_name=f"{config.name}-users",
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            # The auth service creates users (AdminCreateUser) on their first verified code.
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True, phone=True),
            sign_in_policy=cognito.SignInPolicy(
                allowed_first_auth_factors=cognito.AllowedFirstAuthFactors(
                    password=True, email_otp=True, sms_otp=True
                )
            ),
            auto_verify=cognito.AutoVerifiedAttrs(email=True, phone=True),
            account_recovery=cognito.AccountRecovery.PHONE_AND_EMAIL,
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
            ),
            mfa=cognito.Mfa.OFF,
            sms_role=sms_role,
            sms_role_external_id=f"{config.name}-cognito-sms",
            deletion_protection=config.production,
            removal_policy=RemovalPolicy.RETAIN if config.production else RemovalPolicy.DESTROY,
        )
        suppress(
            self.user_pool,
            {
                "AwsSolutions-COG2": "Sign-in is a one-time code to the user's phone or email; "
                "a second factor on top of a possession factor adds nothing here.",
                "AwsSolutions-COG3": "Threat protection needs the Plus plan; the seed's cost target "
                "keeps Essentials, and WAF rate rules guard the sign-in routes.",
                "AwsSolutions-COG8": "As COG3: the Plus plan's threat protection is priced per user; "
                "Essentials has every feature the sign-in uses.",
            },
        )
        self.app_client = self.user_pool.add_client(
            "App",
            user_pool_client_name=f"{config.name}-app",
            generate_secret=False,  # a phone cannot keep a secret
            auth_flows=cognito.AuthFlow(user=True),
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
        )

    @property
    def jwks_url(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool.user_pool_id}/.well-known/jwks.json"
