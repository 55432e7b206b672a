"""How people name cloud services, mapped to the provider's resource types (retrieval knowledge).

Not model-facing text: data the retrieval in ``grounding.py`` reads. General knowledge of the
providers' naming — never derived from an eval task (its tags, intents and references are the answer
key; ``benchmarks/grounding_recall.py`` only scores against them). A type listed here that the schema
index does not hold is ignored, so one table serves every provider version.
"""

from __future__ import annotations

# A phrase (lowercase words, matched on word boundaries, plural or singular) -> types it names.
# A target of the form "*suffix" means: the type ending in ``suffix`` of a service the sentence names
# (``lightsail`` + "ssh key" -> aws_lightsail_key_pair), else the first listed fallback.
PHRASES: dict[str, tuple[str, ...]] = {
    # networking
    "load balancer": ("aws_lb", "aws_lb_listener", "aws_lb_target_group"),
    "application load balancer": ("aws_lb", "aws_lb_listener", "aws_lb_target_group"),
    "network load balancer": ("aws_lb", "aws_lb_listener", "aws_lb_target_group"),
    "alb": ("aws_lb", "aws_lb_listener", "aws_lb_target_group"),
    "nlb": ("aws_lb", "aws_lb_listener", "aws_lb_target_group"),
    "classic load balancer": ("aws_elb",),
    "dns": ("aws_route53_zone", "aws_route53_record"),
    "hosted zone": ("aws_route53_zone",),
    "elastic ip": ("aws_eip",),
    "firewall rule": ("aws_security_group",),
    "cdn": ("aws_cloudfront_distribution",),
    # compute
    "virtual machine": ("aws_instance",),
    "vm": ("aws_instance",),
    "ec2 instance": ("aws_instance",),
    "web server": ("aws_instance",),
    "ssh key": ("*key_pair", "aws_key_pair"),
    "kubernetes": ("aws_eks_cluster",),
    "serverless function": ("aws_lambda_function",),
    "container registry": ("aws_ecr_repository",),
    # storage
    "private bucket": ("aws_s3_bucket", "aws_s3_bucket_public_access_block"),
    "private s3 bucket": ("aws_s3_bucket", "aws_s3_bucket_public_access_block"),
    "public access": ("aws_s3_bucket_public_access_block",),
    "object storage": ("aws_s3_bucket",),
    "static website": ("aws_s3_bucket",),
    "long term": ("aws_glacier_vault",),
    "archive": ("aws_glacier_vault",),
    "archiving": ("aws_glacier_vault",),
    "file system": ("aws_efs_file_system",),
    "block storage": ("aws_ebs_volume",),
    # databases and caches
    "database": ("aws_db_instance",),
    "relational database": ("aws_db_instance",),
    "sql": ("aws_db_instance",),
    "mysql": ("aws_db_instance",),
    "mariadb": ("aws_db_instance",),
    "postgres": ("aws_db_instance",),
    "postgresql": ("aws_db_instance",),
    "postgressql": ("aws_db_instance",),
    "aurora": ("aws_rds_cluster", "aws_rds_cluster_instance"),
    "memcached": ("aws_elasticache_cluster",),
    "redis": ("aws_elasticache_cluster",),
    "cache": ("aws_elasticache_cluster",),
    "nosql": ("aws_dynamodb_table",),
    # messaging, monitoring, identity
    "queue": ("aws_sqs_queue",),
    "notification": ("aws_sns_topic",),
    "topic": ("aws_sns_topic",),
    "alarm": ("aws_cloudwatch_metric_alarm",),
    "log group": ("aws_cloudwatch_log_group",),
    "encryption key": ("aws_kms_key",),
    "secret": ("aws_secretsmanager_secret",),
    "parameter store": ("aws_ssm_parameter",),
    "certificate": ("aws_acm_certificate",),
    "api gateway": ("aws_api_gateway_rest_api",),
    "user pool": ("aws_cognito_user_pool",),
    # azurerm
    "storage account": ("azurerm_storage_account", "azurerm_resource_group"),
    "resource group": ("azurerm_resource_group",),
    "virtual network": ("azurerm_virtual_network", "azurerm_resource_group"),
    "vnet": ("azurerm_virtual_network", "azurerm_resource_group"),
    "key vault": ("azurerm_key_vault", "azurerm_resource_group"),
    "app service": ("azurerm_linux_web_app", "azurerm_service_plan", "azurerm_resource_group"),
}

# A service token (the word after the provider prefix, e.g. ``lightsail`` in aws_lightsail_instance)
# -> the type people mean when they name only the service ("a basic Amazon Lightsail").
SERVICE_MAIN: dict[str, str] = {
    "lightsail": "aws_lightsail_instance",
    "glacier": "aws_glacier_vault",
    "efs": "aws_efs_file_system",
    "redshift": "aws_redshift_cluster",
    "neptune": "aws_neptune_cluster",
    "elasticache": "aws_elasticache_cluster",
    "dynamodb": "aws_dynamodb_table",
    "kinesis": "aws_kinesis_stream",
    "beanstalk": "aws_elastic_beanstalk_application",
    "sqs": "aws_sqs_queue",
    "sns": "aws_sns_topic",
    "s3": "aws_s3_bucket",
    "ec2": "aws_instance",
    "eks": "aws_eks_cluster",
    "ecs": "aws_ecs_cluster",
    "ecr": "aws_ecr_repository",
    "lambda": "aws_lambda_function",
    "route53": "aws_route53_zone",
    "vpc": "aws_vpc",
    "msk": "aws_msk_cluster",
    "dax": "aws_dax_cluster",
    "rds": "aws_db_instance",
    "cloudfront": "aws_cloudfront_distribution",
    "cloudwatch": "aws_cloudwatch_metric_alarm",
    "kms": "aws_kms_key",
    "docdb": "aws_docdb_cluster",
    "documentdb": "aws_docdb_cluster",
    "elasticsearch": "aws_elasticsearch_domain",
    "opensearch": "aws_opensearch_domain",
    "codecommit": "aws_codecommit_repository",
    "cognito": "aws_cognito_user_pool",
    "secretsmanager": "aws_secretsmanager_secret",
    "ssm": "aws_ssm_parameter",
    "acm": "aws_acm_certificate",
    "sfn": "aws_sfn_state_machine",
}

# Words that join into one service token when written apart ("Route 53", "Dynamo DB", "Elastic Beanstalk").
JOINED: dict[tuple[str, str], str] = {
    ("route", "53"): "route53",
    ("dynamo", "db"): "dynamodb",
    ("elastic", "cache"): "elasticache",
    ("open", "search"): "opensearch",
    ("document", "db"): "documentdb",
    ("code", "commit"): "codecommit",
    ("secrets", "manager"): "secretsmanager",
    ("step", "functions"): "sfn",
    ("step", "function"): "sfn",
    ("elastic", "beanstalk"): "beanstalk",
    ("cloud", "watch"): "cloudwatch",
    ("cloud", "front"): "cloudfront",
}

# Single-word type names too common in sentences to be taken alone ("a Redis instance" is not an
# EC2 instance): such a type is retrieved only through PHRASES, SERVICE_MAIN or a reference.
AMBIGUOUS_TYPES = frozenset({"aws_instance", "aws_route", "aws_ami", "aws_config_rule"})

# Required arguments whose value is a JSON policy document: the data source that writes one.
POLICY_ARGUMENTS = frozenset({"assume_role_policy", "policy"})
POLICY_DOCUMENT = "aws_iam_policy_document"
