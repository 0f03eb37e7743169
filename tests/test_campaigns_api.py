"""Campaigns through the REST API (staff scope) and the `campaign` command group (CliRunner on the group)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from core import access
from core.news.models import Campaign
from core.timeutil import to_local, utcnow
from henkham import bootstrap
from henkham.campaign_cli import campaign
from henkham.web import create_app
from tests.factories import add_hospital
from tests.zalo_helpers import OA_ID

pytestmark = pytest.mark.world(days=1)


@pytest.fixture
def hospitals(db, oa_world):
    """Hospital "test" with the test OA, and a second hospital ("khac") without one."""
    add_hospital(db, "khac")
    return db


@pytest.fixture
def client(db, hospitals):
    return create_app(database=db).test_client()


@pytest.fixture
def keys(db, hospitals) -> dict[str, str]:
    with db.uow() as uow:
        return {
            "admin": access.create_api_key(uow, name="admin", kind="admin"),
            "his": access.create_api_key(uow, name="his-test", kind="his", hospital_slug="test"),
            "kiosk": access.create_api_key(uow, name="kiosk-test", kind="kiosk", hospital_slug="test"),
        }


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def stored(db) -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(func.count()).select_from(Campaign))


def body(**overrides) -> dict:
    data = {
        "hospital": "test",
        "title": "Phòng chống sốt xuất huyết",
        "text": "Dạ, mùa mưa đến, anh/chị nhớ diệt lăng quăng và ngủ màn giúp em ạ.",
        "link_url": "https://benhvien.example/sxh",
        "target": {"kind": "topic", "topic": "benh_truyen_nhiem"},
        "send_at": (to_local(utcnow()) + dt.timedelta(days=1)).replace(tzinfo=None).isoformat(timespec="minutes"),
    }
    data.update(overrides)
    return data


# --- API --------------------------------------------------------------------------------------------------------
def test_staff_create_follow_pause_resume_and_cancel_a_campaign(client, keys):
    created = client.post("/api/v1/campaigns", json=body(), headers=auth(keys["his"]))
    assert created.status_code == 201, created.json
    view = created.json
    assert view["status"] == "scheduled" and view["created_by"] == "his-test"
    assert view["target"] == {"kind": "topic", "oa_id": None, "topic": "benh_truyen_nhiem"}
    assert view["counts"] == {"recipients": 0, "waiting": 0, "sending": 0, "sent": 0, "failed": 0, "skipped": 0}
    url = f"/api/v1/campaigns/{view['id']}"
    assert client.get(url, headers=auth(keys["his"])).json["send_at_local"] == body()["send_at"].replace("T", " ")
    assert client.post(f"{url}/pause", headers=auth(keys["his"])).json["status"] == "paused"
    assert client.post(f"{url}/resume", headers=auth(keys["admin"])).json["status"] == "scheduled"
    cancelled = client.post(f"{url}/cancel", headers=auth(keys["his"]))
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    again = client.post(f"{url}/resume", headers=auth(keys["his"]))
    assert again.status_code == 409 and again.json["error"]["code"] == "conflict"


def test_a_followers_campaign_names_a_served_oa(client, keys, db):
    ok = client.post(
        "/api/v1/campaigns", json=body(target={"kind": "followers", "oa_id": OA_ID}), headers=auth(keys["admin"])
    )
    assert ok.status_code == 201, ok.json
    unknown = client.post(
        "/api/v1/campaigns", json=body(target={"kind": "followers", "oa_id": "123"}), headers=auth(keys["admin"])
    )
    assert unknown.status_code == 422 and "no OA" in unknown.json["error"]["message"]
    other = client.post(
        "/api/v1/campaigns",
        json=body(hospital="khac", target={"kind": "followers", "oa_id": OA_ID}),
        headers=auth(keys["admin"]),
    )
    assert other.status_code == 422 and "another hospital" in other.json["error"]["message"]
    assert stored(db) == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"target": {"kind": "topic", "topic": "khong_co"}}, "target"),
        ({"target": {"kind": "everyone"}}, "target"),
        ({"target": {"kind": "followers"}}, "target"),
        ({"title": ""}, "title"),
        ({"text": "x" * 2001}, "text"),
        ({"image_url": "javascript:alert(1)"}, "image_url"),
        ({"send_at": "ngày mai"}, "send_at"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_json_error_and_stores_nothing(client, keys, db, overrides, field):
    response = client.post("/api/v1/campaigns", json=body(**overrides), headers=auth(keys["admin"]))
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["code"] == "invalid_input" and error["message_vi"].startswith("Dạ")
    assert field in str(error["details"])
    assert stored(db) == 0


def test_refusals_from_the_service_are_json_errors(client, keys, db):
    past = client.post("/api/v1/campaigns", json=body(send_at="2020-01-01T09:00"), headers=auth(keys["admin"]))
    assert past.status_code == 422 and "in the past" in past.json["error"]["message"]
    too_long = client.post(
        "/api/v1/campaigns", json=body(title="T" * 200, text="x" * 1900), headers=auth(keys["admin"])
    )
    assert too_long.status_code == 422 and too_long.json["error"]["details"]["limit"] == 2000
    nowhere = client.post("/api/v1/campaigns", json=body(hospital="khong-co"), headers=auth(keys["admin"]))
    assert nowhere.status_code == 404
    not_json = client.post("/api/v1/campaigns", data="{", headers=auth(keys["admin"]) | {"Content-Type": "x/y"})
    assert not_json.status_code in (400, 415, 422) and "error" in not_json.json
    assert client.get("/api/v1/campaigns/999", headers=auth(keys["admin"])).status_code == 404
    assert stored(db) == 0


def test_only_staff_of_the_hospital_manage_its_campaigns(client, keys, db):
    assert client.post("/api/v1/campaigns", json=body()).status_code == 401
    assert client.post("/api/v1/campaigns", json=body(), headers=auth(keys["kiosk"])).status_code == 403
    other = client.post("/api/v1/campaigns", json=body(hospital="khac"), headers=auth(keys["his"]))
    assert other.status_code == 403 and other.json["error"]["code"] == "forbidden"
    theirs = client.post("/api/v1/campaigns", json=body(hospital="khac"), headers=auth(keys["admin"])).json["id"]
    assert client.get(f"/api/v1/campaigns/{theirs}", headers=auth(keys["his"])).status_code == 403
    assert client.post(f"/api/v1/campaigns/{theirs}/cancel", headers=auth(keys["his"])).status_code == 403
    assert stored(db) == 1


# --- CLI --------------------------------------------------------------------------------------------------------
@pytest.fixture
def run(database_url: str, hospitals) -> Iterator:
    runner = CliRunner(env={"HENKHAM_DATABASE_URL": database_url})
    bootstrap.load_settings()  # this process has said "development mode" (once per process) before any captured output

    def invoke(*args: str) -> Result:
        return runner.invoke(campaign, list(args))

    yield invoke


def one_error_line(result: Result) -> str:
    assert result.exit_code != 0, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_cli_create_status_pause_resume_cancel(run):
    tomorrow = (to_local(utcnow()) + dt.timedelta(days=1)).strftime("%Y-%m-%d 09:00")
    created = run(
        "create",
        "--hospital",
        "test",
        "--title",
        "Tiêm chủng mở rộng",
        "--text",
        "Dạ, tháng này trạm có lịch tiêm cho bé ạ.",
        "--topic",
        "tiem_chung",
        "--at",
        tomorrow,
    )
    assert created.exit_code == 0, created.output
    first = created.stdout.splitlines()[0]
    assert first.startswith("campaign ") and "[scheduled] Tiêm chủng mở rộng" in first
    assert f"send at {tomorrow} (Vietnam time)" in created.stdout
    campaign_id = first.split()[1]
    assert "recipients 0: waiting 0" in run("status", campaign_id).stdout
    assert "[paused]" in run("pause", campaign_id).stdout
    assert "[scheduled]" in run("resume", campaign_id).stdout
    assert "[cancelled]" in run("cancel", campaign_id).stdout
    assert one_error_line(run("resume", campaign_id)) == (
        f"error: campaign {campaign_id} is cancelled and cannot be resumed"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--topic", "khong_co"), "unknown topic 'khong_co'"),
        (("--topic", "nhi", "--patients"), "give exactly one target"),
        ((), "give exactly one target"),
        (("--followers", "123"), "no OA '123' is served here"),
        (("--patients", "--link", "www.example.vn"), "link_url: must be an http:// or https:// address"),
        (("--patients", "--at", "2020-01-01 09:00"), "is in the past"),
        (("--patients", "--at", "tomorrow"), "Invalid value for '--at'"),
    ],
)
def test_cli_bad_input_is_one_line_and_stores_nothing(run, db, args, expected):
    result = run("create", "--hospital", "test", "--title", "T", "--text", "Nội dung", *args)
    assert expected in one_error_line(result)
    assert stored(db) == 0


def test_cli_unknown_campaign(run):
    assert one_error_line(run("status", "999")) == "error: no campaign 999"
    assert "error: " in one_error_line(run("pause", "abc"))
