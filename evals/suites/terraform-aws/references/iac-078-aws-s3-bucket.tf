resource "aws_s3_bucket" "example-bucket" {
  bucket = "test-bucket"
}
