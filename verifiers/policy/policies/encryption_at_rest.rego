# Intent "encrypt(ed) at rest": storage and databases must say how their data is encrypted.
package tfagent.rules.encryption_at_rest

import data.tfagent.lib
import rego.v1

inline_sse(bucket) if {
	rule := lib.first_block(lib.first_block(bucket.values, "server_side_encryption_configuration"), "rule")
	lib.first_block(rule, "apply_server_side_encryption_by_default").sse_algorithm
}

separate_sse(bucket) if {
	some sse in lib.of_type("aws_s3_bucket_server_side_encryption_configuration")
	lib.attaches(sse, "bucket", bucket)
}

deny contains msg if {
	some b in lib.of_type("aws_s3_bucket")
	not inline_sse(b)
	not separate_sse(b)
	msg := concat("", [
		b.address, ": no server-side encryption is configured — add an aws_s3_bucket_server_side_encryption_configuration with bucket = ",
		lib.base_address(b.address), ".id and rule { apply_server_side_encryption_by_default { sse_algorithm = \"aws:kms\" } } ",
		"(aws provider < 4.0: a server_side_encryption_configuration block inside the bucket)",
	])
}

# type -> [attribute, the setting to write]
flag_settings := {
	"aws_db_instance": ["storage_encrypted", "storage_encrypted = true"],
	"aws_rds_cluster": ["storage_encrypted", "storage_encrypted = true"],
	"aws_ebs_volume": ["encrypted", "encrypted = true"],
	"aws_efs_file_system": ["encrypted", "encrypted = true"],
	"aws_redshift_cluster": ["encrypted", "encrypted = true"],
	"aws_elasticache_replication_group": ["at_rest_encryption_enabled", "at_rest_encryption_enabled = true"],
	"aws_docdb_cluster": ["storage_encrypted", "storage_encrypted = true"],
	"aws_neptune_cluster": ["storage_encrypted", "storage_encrypted = true"],
}

deny contains msg if {
	some t, setting in flag_settings
	some r in lib.of_type(t)
	lib.value(r, setting[0], false) != true
	msg := concat("", [r.address, ": data at rest is not encrypted — set ", setting[1]])
}

deny contains msg if {
	some t in lib.of_type("aws_dynamodb_table")
	lib.first_block(t.values, "server_side_encryption").enabled != true
	msg := concat("", [t.address, ": no customer-managed encryption — add server_side_encryption { enabled = true } (optionally kms_key_arn)"])
}

deny contains msg if {
	some q in lib.of_type("aws_sqs_queue")
	lib.value(q, "sqs_managed_sse_enabled", false) != true
	not q.values.kms_master_key_id
	not lib.config[lib.base_address(q.address)].expressions.kms_master_key_id
	msg := concat("", [q.address, ": messages are not encrypted — set kms_master_key_id (or sqs_managed_sse_enabled = true)"])
}

deny contains msg if {
	some topic in lib.of_type("aws_sns_topic")
	not topic.values.kms_master_key_id
	not lib.config[lib.base_address(topic.address)].expressions.kms_master_key_id
	msg := concat("", [topic.address, ": messages are not encrypted — set kms_master_key_id = \"alias/aws/sns\" or a key of your own"])
}

deny contains msg if {
	some s in lib.of_type("aws_kinesis_stream")
	lib.value(s, "encryption_type", "NONE") != "KMS"
	msg := concat("", [s.address, ": the stream is not encrypted — set encryption_type = \"KMS\" and kms_key_id = \"alias/aws/kinesis\""])
}

deny contains msg if {
	some db in lib.of_type("azurerm_mssql_database")
	lib.value(db, "transparent_data_encryption_enabled", true) == false
	msg := concat("", [db.address, ": transparent data encryption is switched off — remove transparent_data_encryption_enabled = false"])
}

deny contains msg if {
	some sa in lib.of_type("azurerm_storage_account")
	lib.value(sa, "infrastructure_encryption_enabled", true) == false
	msg := concat("", [sa.address, ": infrastructure encryption is switched off — set infrastructure_encryption_enabled = true"])
}
