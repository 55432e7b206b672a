# Prompt-fair version of intents/iac-003-aws-route53-record.rego (IaC-Eval's original, kept unchanged beside it).
# Relaxed: the zone's exact name "2.0.192.in-addr.arpa" (the prompt asks for a reverse-DNS zone: any
# name ending in ".in-addr.arpa"); the record may point at "host.example53.com", the domain the prompt
# states (the original demands "host.example.com", which the prompt never says), or the original's value.
# Kept: the zone's resource name "reverse_zone" (stated), a PTR record with name and ttl, zone_id
# referencing that zone.
package terraform.validation

default is_configuration_valid = false

default is_valid_r53_zone = false

default is_valid_r53_record = false

is_valid_r53_zone {
    some i
    resource := input.configuration.root_module.resources[i]
    resource.type == "aws_route53_zone"
    resource.name == "reverse_zone"
    endswith(resource.expressions.name.constant_value, ".in-addr.arpa")
}

is_valid_r53_record {
    some i, j
    resource := input.configuration.root_module.resources[i]
    resource.type == "aws_route53_record"
    resource.expressions.name
    resource.expressions.type.constant_value == "PTR"
    resource.expressions.ttl
    stated_target(resource.expressions.records.constant_value[0])
    zone := input.configuration.root_module.resources[j]
    zone.type == "aws_route53_zone"
    zone.name == "reverse_zone"
    zone_reference(resource.expressions.zone_id.references[0], zone)
}

stated_target(value) {
    value == "host.example53.com"
}

stated_target(value) {
    value == "host.example.com"
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
