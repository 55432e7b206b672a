"""Terraform texts several test modules build their cases from (the policy pack and the scanners)."""

from __future__ import annotations

# The four settings that make an S3 bucket private, as its own resource (aws provider 3.x and 4.x).
PUBLIC_ACCESS_BLOCK = """\
resource "aws_s3_bucket_public_access_block" "b" {
  bucket                  = aws_s3_bucket.b.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
"""

# An Azure storage account; `%s` is the rest of its body (each line indented, ending in a newline).
STORAGE_ACCOUNT = """\
resource "azurerm_storage_account" "sa" {
  name                     = "tfagentdemo"
  resource_group_name      = "rg"
  location                 = "westeurope"
  account_tier             = "Standard"
  account_replication_type = "LRS"
%s}
"""
