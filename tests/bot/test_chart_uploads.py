"""A finished job's loss curve arrives in its launch's thread as a file named after the job, as a person
would look for it in the channel's files, never after an id."""

from __future__ import annotations

import boto3

from bot.reply_to import encode
from services.aws.s3 import split_s3_uri
from services.jobs.poll import poll_once
from services.sandbox.trainer import metrics_files
from tests.bot.conftest import Bot
from tests.bot.factories import message_ts
from tests.jobs.conftest import REGION, moto_jobs


def test_a_completed_jobs_loss_curve_is_uploaded_named_after_the_job(bot: Bot) -> None:
    launched = bot.service.launch_jobs(
        "uploads-1", dataset_id=bot.dataset(), models=["11b"], requested_by="U1", reply_to=encode("C1"),
        name="charts", evaluate=False,
    )  # fmt: skip
    delivery = bot.delivery()
    delivery.run_once()
    job = launched.jobs[0]
    finished = moto_jobs()[job.bedrock_job_name]
    # Bedrock writes its metrics under the job's output prefix before it reports Completed.
    bucket, prefix = split_s3_uri(finished.output_data_config["s3Uri"])
    s3 = boto3.client("s3", region_name=REGION)
    for name, text in metrics_files(3, "charts").items():
        s3.put_object(
            Bucket=bucket, Key=f"{prefix}/model-customization-job-1/artifacts/{name}", Body=text.encode()
        )
    finished.status = "Completed"

    poll_once(bot.runtime.wiring.job_deps)
    delivery.run_once()

    uploads = [call.params for call in bot.stub.accepted("files.getUploadURLExternal")]
    assert [upload["filename"] for upload in uploads] == [f"{job.name}-loss-curve.png"]
    assert job.name.startswith("charts") and job.id not in uploads[0]["filename"]
    parent = message_ts(bot.service.get_group(launched.group_id).reply_to)
    completed = bot.stub.accepted("files.completeUploadExternal")[0].params
    assert (completed["channel_id"], completed["thread_ts"]) == ("C1", parent)
