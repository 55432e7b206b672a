package terraform.validation

# Judged on the whole folder after the change: the app bucket is kept and now logs its access to a
# new bucket; the new bucket has versioning enabled and is not public (no public ACL; when it has a
# public access block, every setting of it is on).

default is_configuration_valid = false

default app_kept = false

default audit_bucket_ok = false

app_kept {
	input.configuration.root_module.resources[_].address == "aws_s3_bucket.app"
}

public_acl(values) {
	values.acl == "public-read"
}

public_acl(values) {
	values.acl == "public-read-write"
}

open_access_block(address) {
	r := input.planned_values.root_module.resources[_]
	r.type == "aws_s3_bucket_public_access_block"
	c := input.configuration.root_module.resources[_]
	c.address == r.address
	c.expressions.bucket.references[_] == address
	flags := [r.values.block_public_acls, r.values.block_public_policy, r.values.ignore_public_acls,
		r.values.restrict_public_buckets]
	flags[_] != true
}

app_logs_to(address) {
	app := input.configuration.root_module.resources[_]
	app.address == "aws_s3_bucket.app"
	app.expressions.logging[_].target_bucket.references[_] == address
}

audit_bucket_ok {
	b := input.planned_values.root_module.resources[_]
	b.type == "aws_s3_bucket"
	b.address != "aws_s3_bucket.app"
	b.values.versioning[_].enabled == true
	not public_acl(b.values)
	not open_access_block(b.address)
	app_logs_to(b.address)
}

is_configuration_valid {
	app_kept
	audit_bucket_ok
}
