# Helpers shared by the built-in rule sets. Input: `terraform show -json` of a plan, or tfagent's static
# equivalent built from the HCL (hcl_plan_shape.py) — both have planned_values and configuration.
#
# regopy note: strings returned by regex.replace come back wrongly quoted when passed to sprintf, so
# messages are built with concat and addresses are cut with split.
package tfagent.lib

import rego.v1

# Every planned resource instance, in the root module and in child modules (two levels deep:
# `walk` over the whole plan made the pack ~10x slower in rego-cpp).
planned contains r if some r in input.planned_values.root_module.resources

planned contains r if {
	some child in input.planned_values.root_module.child_modules
	some r in child.resources
}

planned contains r if {
	some child in input.planned_values.root_module.child_modules
	some grandchild in child.child_modules
	some r in grandchild.resources
}

by_type[t] contains r if {
	some r in planned
	t := r.type
}

of_type(t) := object.get(by_type, t, set())

# Root-module configuration entries by address ("aws_s3_bucket.b").
config[address] := r if {
	some r in input.configuration.root_module.resources
	address := r.address
}

# "aws_s3_bucket.c[0]" -> "aws_s3_bucket.c"
base_address(address) := split(address, "[")[0]

# A resource's attribute, or a default when it is absent (unknown until apply, or not set).
value(r, key, default_value) := object.get(r.values, key, default_value)

# The first block of a nested-block attribute, or {} when there is none.
first_block(values, key) := b if {
	blocks := object.get(values, key, [])
	is_array(blocks)
	count(blocks) > 0
	b := blocks[0]
} else := {}

# `attachment` (e.g. an aws_s3_bucket_versioning) points at `target` through its attribute `attr`:
# by reference in the configuration (bucket = aws_s3_bucket.b.id) ...
attaches(attachment, attr, target) if {
	cfg := config[base_address(attachment.address)]
	base_address(target.address) in cfg.expressions[attr].references
}

# ... or by the same literal name (bucket = "my-bucket").
attaches(attachment, attr, target) if {
	wanted := attachment.values[attr]
	some key in ["bucket", "id", "name"]
	wanted == target.values[key]
}
