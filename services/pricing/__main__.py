from libs.server import run
from services.pricing.app import build

run(build)
