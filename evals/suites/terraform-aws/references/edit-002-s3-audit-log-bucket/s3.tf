resource "aws_s3_bucket" "app" {
  bucket = "${var.project}-app-assets"
  acl    = "private"

  versioning {
    enabled = true
  }

  logging {
    target_bucket = aws_s3_bucket.audit_logs.id
    target_prefix = "app/"
  }

  tags = {
    Project = var.project
  }
}
