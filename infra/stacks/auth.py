"""Cognito: passwordless sign-in with an email or SMS one-time code (the seed's "OTP-based auth")."""

from __future__ import annotations

from aws_cdk import CfnOutput, CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import EnvConfig
from infra.stacks.nag import suppress
from libs.auth.caller import INTERNAL_SCOPE
from libs.catalog import SERVICES


class AuthStack(Stack):
    def __init__(
        self, scope: Construct, cid: str, *, config: EnvConfig, key: kms.IKey, **kwargs: object
    ) -> None:
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

        # Each service calls the others' internal methods as itself (client credentials,
        # libs/auth/service_identity.py): one confidential client per service, limited to
        # the internal scope, so the token's client_id proves which service is calling.
        server_id, scope_name = INTERNAL_SCOPE.split("/")
        internal = cognito.ResourceServerScope(
            scope_name=scope_name, scope_description="service-to-service RPCs"
        )
        server = self.user_pool.add_resource_server("Hisaab", identifier=server_id, scopes=[internal])
        self.domain = self.user_pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=f"{config.name}-{self.account}"),
        )
        self.service_clients: dict[str, cognito.UserPoolClient] = {}
        self.service_client_secrets: dict[str, secretsmanager.Secret] = {}
        for service in SERVICES:
            title = service.name.title()
            client = self.user_pool.add_client(
                f"{title}Service",
                user_pool_client_name=f"{config.name}-{service.name}",
                generate_secret=True,
                o_auth=cognito.OAuthSettings(
                    flows=cognito.OAuthFlows(client_credentials=True),
                    scopes=[cognito.OAuthScope.resource_server(server, internal)],
                ),
                access_token_validity=Duration.hours(1),
                enable_token_revocation=True,
            )
            # Reaches only this service's pods as HISAAB_SERVICE_CLIENT_SECRET
            # (External Secrets, externalSecrets.identitySecrets in the chart).
            secret = secretsmanager.Secret(
                self,
                f"{title}ServiceSecret",
                secret_name=f"{config.name}/identity-{service.name}",
                # The data key: the External Secrets role may decrypt with it.
                encryption_key=key,
                secret_object_value={"HISAAB_SERVICE_CLIENT_SECRET": client.user_pool_client_secret},
            )
            suppress(
                secret,
                {
                    "AwsSolutions-SMG4": "Cognito generates the client secret and cannot rotate it in place; "
                    "rotating means a new client (docs/deploy.md)."
                },
            )
            self.service_clients[service.name] = client
            self.service_client_secrets[service.name] = secret
        # CDK reads the generated client secret with a small custom resource (one Lambda).
        suppress(
            self,
            {
                "AwsSolutions-IAM4": "The custom resource that reads the client secret uses the "
                "AWS-managed basic execution role for its logs.",
                "AwsSolutions-IAM5": "Same custom resource: its log stream names are not known in advance.",
                "AwsSolutions-L1": "The custom resource's runtime is chosen and upgraded by aws-cdk-lib.",
            },
        )
        _acknowledge_custom_resource(self)
        for name, value in (
            ("UserPoolId", self.user_pool.user_pool_id),
            ("AppClientId", self.app_client.user_pool_client_id),
            ("JwksUrl", self.jwks_url),
            ("ServiceTokenUrl", f"{self.domain.base_url()}/oauth2/token"),
            *(
                (f"{s.title()}ServiceClientId", c.user_pool_client_id)
                for s, c in self.service_clients.items()
            ),
            *(
                (f"{s.title()}ServiceSecretName", secret.secret_name)
                for s, secret in self.service_client_secrets.items()
            ),
        ):
            CfnOutput(self, name, value=value)

    @property
    def jwks_url(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool.user_pool_id}/.well-known/jwks.json"


# aws-cdk-lib's one Lambda here (AwsCustomResource) that reads the generated client secret once per deploy.
_CUSTOM_RESOURCE = "AWS679f53fac002430cb0da5b7982bd2287"
_LAMBDA_SKIPS = {
    "CKV_AWS_115": "Runs once per deploy; reserved concurrency would only hold capacity.",
    "CKV_AWS_116": "Invoked synchronously by CloudFormation, which reports a failure itself; no DLQ.",
    "CKV_AWS_117": "Calls only the Cognito API; a VPC would add a NAT path and nothing else.",
    "CKV_AWS_173": "Its environment holds no secret (the secret is returned to CloudFormation only).",
}


def _acknowledge_custom_resource(stack: Stack) -> None:
    function = stack.node.try_find_child(_CUSTOM_RESOURCE)
    if function is None:
        return
    cfn = function.node.default_child
    assert isinstance(cfn, CfnResource)
    cfn.add_metadata("checkov", {"skip": [{"id": k, "comment": v} for k, v in _LAMBDA_SKIPS.items()]})
    # CDK sets DependsOn on the role that Role already references.
    cfn.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
