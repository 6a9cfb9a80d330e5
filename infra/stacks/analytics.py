"""Phase 3: the nightly analytics export in S3 becomes queryable with Athena.

Athena, not Redshift Serverless: the export is one small JSON object a day
(libs/jobs/analytics.py), so a query scans kilobytes and costs a fraction of a
cent, while Redshift Serverless bills a minimum of 4 RPUs for every minute a
query runs and needs the data loaded. Redshift earns its place only when the
export grows into raw events at volume.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EnvConfig
from infra.stacks.data import DataStack

# The JSON document analytics.aggregates() writes, one per day.
COLUMNS = (
    ("day", "string"),
    ("time_zone", "string"),
    ("events", "map<string,bigint>"),
    ("ledger", "array<struct<kind:string,currency:string,entries:bigint,total_minor:bigint>>"),
    ("active_groups", "bigint"),
)
EXPORT_PREFIX = "analytics/daily/"


class AnalyticsStack(Stack):
    def __init__(
        self, scope: Construct, cid: str, *, config: EnvConfig, data: DataStack, **kwargs: object
    ) -> None:
        super().__init__(scope, cid, **kwargs)  # type: ignore[arg-type]
        results = s3.Bucket(
            self,
            "QueryResults",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=data.access_logs,
            server_access_logs_prefix="athena-results/",
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(30))],
            removal_policy=RemovalPolicy.DESTROY,
        )
        database_name = f"hisaab_{config.env}_analytics"
        database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=self.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(name=database_name),
        )
        table = glue.CfnTable(
            self,
            "Daily",
            catalog_id=self.account,
            database_name=database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name="daily",
                table_type="EXTERNAL_TABLE",
                parameters={"classification": "json"},
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in COLUMNS],
                    location=f"s3://{data.analytics.bucket_name}/{EXPORT_PREFIX}",
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.openx.data.jsonserde.JsonSerDe"
                    ),
                ),
            ),
        )
        table.add_resource_dependency(database)
        athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=f"{config.name}-analytics",
            state="ENABLED",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                # A runaway query stops at 1 GB scanned (half a cent).
                bytes_scanned_cutoff_per_query=1_000_000_000,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{results.bucket_name}/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
