from libs.server import run
from services.notification.app import build

run(build)
