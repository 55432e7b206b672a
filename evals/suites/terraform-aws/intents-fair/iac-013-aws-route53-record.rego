# Prompt-fair version of intents/iac-013-aws-route53-record.rego (IaC-Eval's original, kept unchanged beside it).
# Relaxed: the zone's resource name "example53", which the prompt does not state.
# Kept: a zone named "example53.com" (stated), a record with name, type, ttl and records (non-alias)
# whose zone_id references that zone.
package terraform.validation

default is_configuration_valid = false

default is_valid_r53_zone = false

default is_valid_r53_record = false

is_valid_r53_zone {
    some i
    resource := input.configuration.root_module.resources[i]
    resource.type == "aws_route53_zone"
    resource.expressions.name.constant_value == "example53.com"
}

is_valid_r53_record {
    some i, j
    resource := input.configuration.root_module.resources[i]
    resource.type == "aws_route53_record"
    resource.expressions.name
    resource.expressions.type
    resource.expressions.ttl
    resource.expressions.records
    zone := input.configuration.root_module.resources[j]
    zone.type == "aws_route53_zone"
    zone.expressions.name.constant_value == "example53.com"
    zone_reference(resource.expressions.zone_id.references[0], zone)
}

# the record points at a zone of this configuration: aws_route53_zone.<label>.zone_id, or .id (the
# aws provider documents id as the zone id)
zone_reference(ref, zone) {
    ref == concat(".", ["aws_route53_zone", zone.name, "zone_id"])
}

zone_reference(ref, zone) {
    ref == concat(".", ["aws_route53_zone", zone.name, "id"])
}

is_configuration_valid {
    is_valid_r53_zone
    is_valid_r53_record
}
