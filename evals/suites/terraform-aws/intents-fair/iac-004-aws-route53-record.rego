# Prompt-fair version of intents/iac-004-aws-route53-record.rego (IaC-Eval's original, kept unchanged beside it).
# Relaxed: the zone's domain "example53.com", which the prompt does not state. "The name of the zone
# should be example" is read either way: the zone's resource name or its name argument.
# Kept: a TXT record with name and ttl holding "passwordpassword", zone_id referencing that zone.
package terraform.validation

default is_configuration_valid = false

default is_valid_r53_zone = false

default is_valid_r53_record = false

named_example(zone) {
    zone.name == "example"
}

named_example(zone) {
    zone.expressions.name.constant_value == "example"
}

is_valid_r53_zone {
    some i
    resource := input.configuration.root_module.resources[i]
    resource.type == "aws_route53_zone"
    named_example(resource)
}

is_valid_r53_record {
    some i, j
    resource := input.configuration.root_module.resources[i]
    resource.type == "aws_route53_record"
    resource.expressions.name
    resource.expressions.type.constant_value == "TXT"
    resource.expressions.ttl
    resource.expressions.records.constant_value[0] == "passwordpassword"
    zone := input.configuration.root_module.resources[j]
    zone.type == "aws_route53_zone"
    named_example(zone)
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
