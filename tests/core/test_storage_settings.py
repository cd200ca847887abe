"""File storage by settings: a local folder by default, S3-compatible storage when a bucket is named."""

from konsil.settings import file_storage


def test_local_folder_by_default(tmp_path):
    storage = file_storage({"KONSIL_FILES_DIR": str(tmp_path)})
    assert storage == {"BACKEND": "django.core.files.storage.FileSystemStorage",
                       "OPTIONS": {"location": str(tmp_path)}}


def test_s3_compatible_storage_when_a_bucket_is_named():
    storage = file_storage({"KONSIL_S3_BUCKET": "records", "KONSIL_S3_ENDPOINT_URL": "https://minio.local:9000",
                            "KONSIL_S3_ACCESS_KEY": "id", "KONSIL_S3_SECRET_KEY": "secret"})
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    options = storage["OPTIONS"]
    assert options["bucket_name"] == "records" and options["endpoint_url"] == "https://minio.local:9000"
    assert options["file_overwrite"] is False and options["default_acl"] is None  # random names never collide
    assert "region_name" not in options
