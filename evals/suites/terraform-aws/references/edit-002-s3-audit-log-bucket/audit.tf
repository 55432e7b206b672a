resource "aws_s3_bucket" "audit_logs" {
  bucket = "${var.project}-audit-logs"
  acl    = "log-delivery-write"

  versioning {
    enabled = true
  }

  tags = {
    Project = var.project
  }
}

resource "aws_s3_bucket_public_access_block" "audit_logs" {
  bucket                  = aws_s3_bucket.audit_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
