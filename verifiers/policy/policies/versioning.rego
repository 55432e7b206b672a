# Intent "versioning" / "versioned": object storage must keep old versions.
package tfagent.rules.versioning

import data.tfagent.lib
import rego.v1

inline_versioning(bucket) if lib.first_block(bucket.values, "versioning").enabled == true

separate_versioning(bucket) if {
	some v in lib.of_type("aws_s3_bucket_versioning")
	lib.attaches(v, "bucket", bucket)
	lib.first_block(v.values, "versioning_configuration").status == "Enabled"
}

deny contains msg if {
	some b in lib.of_type("aws_s3_bucket")
	not inline_versioning(b)
	not separate_versioning(b)
	msg := concat("", [
		b.address, ": versioning is not enabled — add an aws_s3_bucket_versioning with bucket = ",
		lib.base_address(b.address), ".id and versioning_configuration { status = \"Enabled\" } ",
		"(aws provider < 4.0: versioning { enabled = true } inside the bucket)",
	])
}

deny contains msg if {
	some sa in lib.of_type("azurerm_storage_account")
	lib.first_block(sa.values, "blob_properties").versioning_enabled != true
	msg := concat("", [sa.address, ": blob versioning is not enabled — add blob_properties { versioning_enabled = true }"])
}
