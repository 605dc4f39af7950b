from django.db import migrations

from config.singlestore.operations import AddVectorColumn


class Migration(migrations.Migration):
    """The dlib-resnet-mtcnn embedder's VECTOR column on SingleStoreDB; nothing elsewhere."""

    dependencies = [
        ("faces", "0001_initial"),
    ]

    operations = [
        AddVectorColumn("Face", "dlib-resnet-mtcnn"),
    ]
