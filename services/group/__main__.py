from libs.server import run
from services.group.app import build

run(build)
