from libs.server import run
from services.auth.app import build

run(build)
